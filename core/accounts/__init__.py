"""Contract users (ACC-): the master and up to ten general users, their profiles and restrictions."""
