"""Twenty facts a user might tell an assistant, each with a later question that asks for it in other
words (few or none of the fact's own words): the paraphrase check of the local embedder."""

from __future__ import annotations

PAIRS: tuple[tuple[str, str], ...] = (
    ("I'm allergic to peanuts.", "Any dietary restrictions you remember?"),
    ("My daughter Emma turns seven next month.", "How old is my kid going to be?"),
    ("I work as a nurse in the night shift at St. Mary's hospital.", "What do I do for a living?"),
    ("We moved to Lisbon last spring.", "Which city do I live in now?"),
    ("I drive a blue 2015 Honda Civic.", "What car do I have?"),
    ("My favourite band is Radiohead.", "What music do I like?"),
    (
        "I'm afraid of flying, so I take the train whenever I can.",
        "How do I like to get around on long journeys?",
    ),
    ("My dog is a golden retriever called Max.", "What kind of pet do I own?"),
    ("I'm learning Japanese for a trip to Tokyo in October.", "Which language am I studying?"),
    ("My wife's birthday is on March 3rd.", "When should I buy a present for my spouse?"),
    ("I run a half marathon every autumn.", "What sport do I do?"),
    ("I have type 1 diabetes and check my blood sugar often.", "Do I have any medical conditions?"),
    ("I prefer answers in short bullet points.", "How do I like responses formatted?"),
    ("I'm saving money to buy a house next year.", "What is my big financial goal?"),
    ("My manager's name is Priya.", "Who is my boss?"),
    ("I can't stand horror movies.", "Which films should you never recommend to me?"),
    ("I play the cello in a community orchestra.", "What instrument do I play?"),
    ("I usually wake up at 5 a.m. to meditate.", "What does my morning routine look like?"),
    ("My laptop is a ThinkPad running Ubuntu.", "What computer and operating system do I use?"),
    ("I grew up on a farm in Iowa.", "Where was I raised?"),
)
