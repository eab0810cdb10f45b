DROP TABLE "rateLimit";
