"""The Architecture tab's diagram: the network drawn as the paper's Figure 3 draws it, beside the layer table."""
