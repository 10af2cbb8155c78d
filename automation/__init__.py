"""Running the program offline (mock engine), and the plan command built on it."""
