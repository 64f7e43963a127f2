"""`python -m adapters.simulator --port N [--speed S]`."""

import argparse

from adapters.simulator.app import run

parser = argparse.ArgumentParser(prog="python -m adapters.simulator")
parser.add_argument("--port", type=int, default=8001)
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--speed", type=float, default=1.0)
args = parser.parse_args()
run(args.port, args.speed, args.host)
