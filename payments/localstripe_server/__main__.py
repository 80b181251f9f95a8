import sys

from payments.localstripe_server.cli import main

main(sys.argv[1:])
