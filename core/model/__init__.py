"""Networks: the generator, the discriminator, feature extractors and their norm layer."""
