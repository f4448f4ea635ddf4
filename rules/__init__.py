"""The bundled rule pack (YAML data); this file only makes the folder locatable as drgaudit.rules."""
