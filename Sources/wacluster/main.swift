print("wacluster")
