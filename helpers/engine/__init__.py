"""The one place in the course that talks to the Docker Engine (SDK and Compose CLI).

Everything outside this package receives plain data, byte streams or files from here.
"""
