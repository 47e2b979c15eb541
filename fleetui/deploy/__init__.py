"""The enrollment engine: a readable pipeline of steps that emit events. No Textual."""
