"""`python -m gateway`: serve the gateway (see `gateway.serve`)."""

from gateway.serve import main

if __name__ == "__main__":
    main()
