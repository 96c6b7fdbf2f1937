"""Testing recipes like code: test files run by `fusebook test`, and a pytest plugin.

`fusebook.testing.model` is the test file format; `runner` finds and runs cases against
an in-memory virtual chip; `start` builds starting chips; `compare` turns outcomes into
readable differences; `pytest_plugin` offers the same to Python tests.
"""
