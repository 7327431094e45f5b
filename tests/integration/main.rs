mod summarize;
