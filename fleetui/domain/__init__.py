"""The domain: small typed values and pure rules. No IO, no Textual."""
