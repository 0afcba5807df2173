print("wachaos")
