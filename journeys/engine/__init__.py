"""The engine: compiles a Definition into a `transitions` machine and runs it over a store.

Arrives with the engine issue (compiler, runner, saga, checkpoints, policy resolution, WAL store,
recovery, workers); nothing here yet.
"""
