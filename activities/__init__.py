"""Side effects, as classes whose clients arrive through the constructor."""
