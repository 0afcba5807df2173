print("wachaos: not yet")
