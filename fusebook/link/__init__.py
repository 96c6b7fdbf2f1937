"""The ROM serial link: SLIP framing (slip), loader commands (protocol), opening ports
(port), reset sequences (reset), link facts (facts: each chip's in its chip data, the shared
ones in rom.yaml) and RomLink (rom), the register bus of a real chip in download mode."""
