"""Helpers shared by test modules: data, expected results and runners, never fixtures.

Fixtures live in the conftest.py files; test modules import from here, never from each other.
"""
