"""Scanning files and folders: finding images and classifying each one."""
