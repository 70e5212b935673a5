"""Back-office forms, by screen (as in `casework.views`): they parse and validate input;
the rules of the domain stay in `casework.services`."""
