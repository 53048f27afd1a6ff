"""Model families of the zoo, one folder each."""
