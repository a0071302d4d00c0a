import sys

from .launcher import launch

sys.exit(launch())
