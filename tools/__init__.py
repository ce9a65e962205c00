"""Developer tools that are not tests and not part of the deployed program."""
