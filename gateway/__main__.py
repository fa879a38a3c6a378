"""`python -m gateway`: serve the gateway (`gateway.serve`); `keys ...` manages API keys (`gateway.cli`)."""

from gateway.cli import cli

if __name__ == "__main__":
    cli(prog_name="python -m gateway")
