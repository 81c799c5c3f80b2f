"""Typed attributes, one model per kind.

A session's ``attributes`` are stored as JSON; each kind reads and writes them
through its model here (``KernelAttributes.of(session)``) instead of by string
key, so a misspelt key is a type error and the SDK can read them typed too.
"""
