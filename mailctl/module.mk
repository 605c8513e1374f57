$(eval $(call program,mailctl,mailctl,-lpq -lz -lrnp,smtpd))
