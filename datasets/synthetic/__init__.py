"""Licence-free synthetic stand-ins for the licensed datasets, written in their exact on-disk formats."""
