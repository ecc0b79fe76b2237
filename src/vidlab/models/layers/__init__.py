"""Small building blocks shared by the zoo's model files."""
