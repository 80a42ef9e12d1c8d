"""A clean module: nothing here for the secrets check to find."""

import os


def region() -> str:
    return os.environ.get("AWS_DEFAULT_REGION", "eu-west-1")


if __name__ == "__main__":
    print(region())
