"""The Architecture tab: the options of one network, its layer table and its diagram (the network drawn as the
paper's Figure 3 draws it), two views of one selection."""
