"""`python -m gatosuite` (and `torchrun -m gatosuite`) run the command line."""

from gatosuite.cli import main

main()
