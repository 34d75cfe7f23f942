"""What orc shows: console lines (`console`), the plan document (`plan`), and the plan's
self-contained HTML page (`html`, with its template, style and script in `assets/`)."""
