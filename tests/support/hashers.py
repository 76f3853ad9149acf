from django.contrib.auth.hashers import PBKDF2PasswordHasher


class QuickPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """Production's algorithm with one iteration, for the tests' own users: a million iterations
    cost half a second of CPU per user made or signed in. The iteration count is part of each
    hash, so a server that a test starts with production's hashers still accepts these."""

    iterations = 1
