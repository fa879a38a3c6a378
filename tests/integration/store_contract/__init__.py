"""The store contract: every operation and rule of the Store protocol, against a real backend.

Parametrized over backends through the `store` fixture (conftest.py), so that each implementation
passes the same tests.
"""
