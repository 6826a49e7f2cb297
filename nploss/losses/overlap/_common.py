"""What the overlap losses share: the sizes their registry entries sample at."""

SIZES = {"N": 3, "C": 3, "H": 3, "W": 4}
