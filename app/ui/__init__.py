"""Everything that imports Qt widgets. The store and the receiver never import this package."""
