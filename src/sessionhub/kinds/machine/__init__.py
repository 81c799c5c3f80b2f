"""The ``machine`` kind: leased compute processes with a timeout (ComfyDeploy)."""
