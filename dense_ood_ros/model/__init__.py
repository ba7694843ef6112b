"""The exported model as the runtime sees it: the contract-1 metadata and the bundled demo model."""
