"""Icons, app icons and the desktop entry: `envops_desktop.resources` once installed."""
