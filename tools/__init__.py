"""Developer tools of convgeom (not part of the installed package)."""
