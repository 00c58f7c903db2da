"""The official OpenAI, Anthropic, Google Gen AI and AWS (boto3) Python SDKs, through the guard,
against the test upstream.

Run by tests/e2e/run.sh, which starts the upstream and the guard and sets:
  HTTPS_PROXY       the guard (the SDKs' HTTP clients honour it)
  LG_DEVICE_CA      the device CA, the only trust anchor the SDK gets
  LG_UPSTREAM_LOG   JSON lines of every request the upstream received
"""

import json
import os
import ssl
import sys
import unittest

import anthropic
import boto3
import botocore.config
import botocore.exceptions
import openai
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

AWS_KEY = "AKIAQYLPMN5HJNGY4F7A"


def ssl_context():
    ctx = ssl.create_default_context(cafile=os.environ["LG_DEVICE_CA"])
    return ctx


def upstream_bodies():
    path = os.environ["LG_UPSTREAM_LOG"]
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line)["body"] for line in f if line.strip()]


def wait_for_marker(marker, timeout=10.0):
    """Waits until the upstream's log holds a request containing `marker`. The log is written
    in arrival order, so everything sent before the marker is in it too."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(marker in b for b in upstream_bodies()):
            return True
        time.sleep(0.02)
    return False


class OpenAISDK(unittest.TestCase):
    def client(self):
        http = openai.DefaultHttpxClient(verify=ssl_context(), trust_env=True)
        return openai.OpenAI(api_key="sk-test-not-a-real-key", http_client=http, max_retries=0)

    def test_clean_prompt_is_answered(self):
        r = self.client().chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "Say hello to the OpenAI SDK"}]
        )
        self.assertEqual(r.choices[0].message.content, "Hello from upstream")
        self.assertTrue(wait_for_marker("Say hello to the OpenAI SDK"), "the upstream got the prompt")

    def test_secret_raises_a_readable_permission_error(self):
        with self.assertRaises(openai.PermissionDeniedError) as cm:
            self.client().chat.completions.create(
                model="gpt-4o",
                messages=[{"role": "user", "content": f"use aws_access_key_id = {AWS_KEY}"}],
            )
        self.assertEqual(cm.exception.status_code, 403)
        self.assertIn("aws-access-key-id", str(cm.exception))
        self.assertNotIn(AWS_KEY, str(cm.exception))
        marker = "sentinel-openai-after-block"
        self.client().chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": marker}])
        self.assertTrue(wait_for_marker(marker))
        self.assertFalse(any(AWS_KEY in b for b in upstream_bodies()), "the upstream never saw it")

    def test_stream_arrives_as_chunks(self):
        stream = self.client().chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        text = "".join((c.choices[0].delta.content or "") for c in stream if c.choices)
        self.assertEqual(text, "Hello")


class AnthropicSDK(unittest.TestCase):
    def client(self):
        http = anthropic.DefaultHttpxClient(verify=ssl_context(), trust_env=True)
        return anthropic.Anthropic(api_key="sk-ant-test-not-real", http_client=http, max_retries=0)

    def test_clean_prompt_is_answered(self):
        r = self.client().messages.create(
            model="claude-test", max_tokens=50, messages=[{"role": "user", "content": "Say hello"}]
        )
        self.assertEqual(r.content[0].text, "Hello from upstream")

    def test_secret_raises_a_readable_permission_error(self):
        with self.assertRaises(anthropic.PermissionDeniedError) as cm:
            self.client().messages.create(
                model="claude-test",
                max_tokens=50,
                system="You are a deploy bot.",
                messages=[{"role": "user", "content": [{"type": "text", "text": f"key {AWS_KEY}"}]}],
            )
        self.assertEqual(cm.exception.status_code, 403)
        self.assertIn("aws-access-key-id", str(cm.exception))
        marker = "sentinel-anthropic-after-block"
        self.client().messages.create(model="claude-test", max_tokens=5, messages=[{"role": "user", "content": marker}])
        self.assertTrue(wait_for_marker(marker))
        self.assertFalse(any(AWS_KEY in b for b in upstream_bodies()), "the upstream never saw it")

    def test_stream_arrives_as_events(self):
        with self.client().messages.stream(
            model="claude-test", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            text = "".join(stream.text_stream)
        self.assertEqual(text, "Hello")


class GoogleGenAISDK(unittest.TestCase):
    """google-genai against the Gemini API (generativelanguage.googleapis.com)."""

    def setUp(self):
        # Kept for the test: the SDK closes its HTTP client when the Client is collected.
        opts = genai_types.HttpOptions(client_args={"verify": ssl_context(), "trust_env": True})
        self.genai = genai.Client(api_key="test-gemini-key-not-real", http_options=opts)

    def client(self):
        return self.genai

    def test_clean_prompt_is_answered(self):
        r = self.client().models.generate_content(model="gemini-2.5-flash", contents="Say hello to Gemini")
        self.assertEqual(r.text, "Hello from upstream")
        self.assertTrue(wait_for_marker("Say hello to Gemini"))

    def test_secret_raises_a_readable_client_error(self):
        with self.assertRaises(genai_errors.ClientError) as cm:
            self.client().models.generate_content(
                model="gemini-2.5-flash", contents=f"deploy with aws_access_key_id = {AWS_KEY}"
            )
        self.assertEqual(cm.exception.code, 403)
        self.assertIn("aws-access-key-id", str(cm.exception))
        self.assertNotIn(AWS_KEY, str(cm.exception))
        marker = "sentinel-gemini-after-block"
        self.client().models.generate_content(model="gemini-2.5-flash", contents=marker)
        self.assertTrue(wait_for_marker(marker))
        self.assertFalse(any(AWS_KEY in b for b in upstream_bodies()), "the upstream never saw it")


class BedrockSDK(unittest.TestCase):
    """boto3's bedrock-runtime Converse API (SigV4-signed; the credentials are fake)."""

    def client(self):
        return boto3.client(
            "bedrock-runtime",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            verify=os.environ["LG_DEVICE_CA"],
            config=botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}),
        )

    def converse(self, text):
        return self.client().converse(
            modelId="anthropic.claude-3-haiku-20240307-v1:0",
            messages=[{"role": "user", "content": [{"text": text}]}],
            inferenceConfig={"maxTokens": 64},
        )

    def test_clean_prompt_is_answered(self):
        r = self.converse("Say hello to Bedrock")
        self.assertEqual(r["output"]["message"]["content"][0]["text"], "Hello from upstream")
        self.assertEqual(r["usage"]["outputTokens"], 3)

    def test_stream_arrives_as_event_stream_messages(self):
        # The answer carries an AWS key cut over four-character deltas (the guard reads it as a
        # reply, tests/e2e/run.sh finds the `reply` event); boto3 checks every message's CRCs.
        answer = f"here: aws_access_key_id = {AWS_KEY} done"
        r = self.client().converse_stream(
            modelId="anthropic.claude-3-haiku-20240307-v1:0",
            messages=[{"role": "user", "content": [{"text": f"REPLYREV<<{answer[::-1]}>>"}]}],
        )
        deltas, usage = [], None
        for event in r["stream"]:
            if "contentBlockDelta" in event:
                deltas.append(event["contentBlockDelta"]["delta"]["text"])
            if "metadata" in event:
                usage = event["metadata"]["usage"]
        self.assertGreater(len(deltas), 5)
        self.assertEqual("".join(deltas), answer, "replies are read, not changed")
        self.assertEqual((usage["inputTokens"], usage["outputTokens"]), (11, 42))

    def test_secret_raises_access_denied_with_the_reason(self):
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.converse(f"use aws_access_key_id = {AWS_KEY} for the deploy")
        err = cm.exception.response["Error"]
        self.assertEqual(err["Code"], "AccessDeniedException")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 403)
        self.assertIn("aws-access-key-id", err["Message"])
        self.assertNotIn(AWS_KEY, err["Message"])
        marker = "sentinel-bedrock-after-block"
        self.converse(marker)
        self.assertTrue(wait_for_marker(marker))
        self.assertFalse(any(AWS_KEY in b for b in upstream_bodies()), "the upstream never saw it")


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() and result.testsRun == 11 else 1)
