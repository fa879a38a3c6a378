"""The provider adapters against fake upstreams over real HTTP (SPEC §3.3, §7).

One contract, parametrized over OpenAI, Anthropic and an OpenAI-compatible endpoint named in a TOML
config file (the `Case`s of `helpers.py`): the exact upstream request, the mapping of answers, usage
and stream chunks, every scripted failure, fallbacks, aliases, missing keys, secrets in upstream
errors, and upstream addresses that a caller must not be able to choose.
"""
