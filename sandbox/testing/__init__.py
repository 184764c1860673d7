"""Test helpers for driving the sandbox's OAuth flow: headless (HTTP) and in a real browser."""
