"""The web console: people of member organizations sign in and use Silkgate in a browser."""
