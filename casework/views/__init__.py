"""The back office of one site, by screen: `home` (front door, case files), `queue` (the queue,
search, new case, notifications), `case` (the case page and its actions, the printable sheet),
`configuration` (the site admin's screens). Every action calls a casework service."""
