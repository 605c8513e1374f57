$(eval $(call program,mailctl,mailctl,-lz,smtpd))
