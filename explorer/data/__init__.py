"""Training data, Qt-free: CIFAR-10/100 as published (``cifar_spec``) and read from disk (``cifar``), an
offline synthetic set (``synthetic``), a folder of one's own images (``folder_layout`` lists it without
torch, ``image_folder`` decodes it), the paper's splits (``dataset``), where a dataset lives and whether it is
there (``location``, no torch), loading one by its DataConfig (``loading``) and the device-resident batch stream
the trainer draws from (``batches``). Import the module you need: this package face loads nothing, so the GUI
can ask about a data folder without importing torch."""
