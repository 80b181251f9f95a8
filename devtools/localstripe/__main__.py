import sys

from devtools.localstripe.cli import main

main(sys.argv[1:])
