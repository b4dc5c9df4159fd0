"""Models: GroupViT, the text transformer, losses, tokenizer, presets and checkpoint loading."""
