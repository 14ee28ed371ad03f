"""Style sheets and other files the desktop app loads at run time."""
