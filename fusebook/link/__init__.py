"""The ROM serial link: SLIP framing (slip), loader commands (protocol), opening ports
(port), reset sequences (reset), chip facts (facts, chips.yaml) and RomLink (rom), the
register bus of a real chip in download mode."""
